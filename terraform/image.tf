################################################################################
# Container image: ECR repository, and a build + push during apply
################################################################################

locals {
  build_image = var.image_uri == null

  # The build context is the repository root (the image copies core/lamforest).
  source_root = abspath("${path.module}/..")
  dockerfile  = "${local.source_root}/image/Dockerfile"

  # Everything the image is made of; bytecode caches never reach it (.dockerignore).
  image_inputs = concat(
    [for f in ["image/Dockerfile", "image/requirements.txt", ".dockerignore"] : "${local.source_root}/${f}"],
    [
      for f in sort(fileset("${local.source_root}/core/lamforest", "**")) :
      "${local.source_root}/core/lamforest/${f}"
      if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
    ],
  )
  image_hash = sha256(join("\n", concat(
    [var.architecture],
    [for f in local.image_inputs : "${trimprefix(f, local.source_root)} ${filesha256(f)}"],
  )))
  # Tags are immutable: a new hash is a new tag, an unchanged tree is the same tag and no build.
  image_tag = "${var.architecture}-${substr(local.image_hash, 0, 24)}"
}

resource "aws_ecr_repository" "this" {
  count = local.build_image ? 1 : 0

  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  # Images are rebuilt from the source tree at will: destroy may delete them.
  force_delete = true

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    # The AWS managed key (aws/ecr).
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = local.build_image ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.image_keep_count} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.image_keep_count
      }
      action = { type = "expire" }
    }]
  })
}

resource "terraform_data" "image" {
  count = local.build_image ? 1 : 0

  # A new URI (new inputs, architecture or repository) replaces this resource and so rebuilds.
  input            = "${aws_ecr_repository.this[0].repository_url}:${local.image_tag}"
  triggers_replace = ["${aws_ecr_repository.this[0].repository_url}:${local.image_tag}"]

  provisioner "local-exec" {
    command     = var.image_build_command
    working_dir = local.source_root
    environment = {
      IMAGE_URI  = "${aws_ecr_repository.this[0].repository_url}:${local.image_tag}"
      REGISTRY   = split("/", aws_ecr_repository.this[0].repository_url)[0]
      PLATFORM   = "linux/${var.architecture == "arm64" ? "arm64" : "amd64"}"
      DOCKERFILE = local.dockerfile
      CONTEXT    = local.source_root
      PYTHON     = fileexists("${local.source_root}/.venv/bin/python") ? "${local.source_root}/.venv/bin/python" : "python3"
      AWS_REGION = var.region
    }
  }
}
