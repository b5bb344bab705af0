################################################################################
# Naming and placement
################################################################################

variable "name" {
  description = "Name of this deployment: the function, topic, role, queue and repository are called by it, the bucket starts with it. Two deployments in one account need two names."
  type        = string
  default     = "lamforest"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1 or eu-west-2."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project and Deployment are always set)."
  type        = map(string)
  default     = {}
}

################################################################################
# Function
################################################################################

variable "architecture" {
  description = "Instruction set of the function and of the image built for it: x86_64, or arm64 (about 20% cheaper per GB-second; building it on an x86 machine needs QEMU for docker buildx)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of one worker in MB (128-10240). CPU grows with it: 1769 MB is one vCPU, 10240 MB six."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Longest a grove may run, in seconds (1-900). A grove that would take longer should have fewer trees."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 900 (Lambda's limit)."
  }
}

variable "ephemeral_storage_size" {
  description = "Size of the worker's /tmp in MB (512-10240); the train set is cached there between warm invocations."
  type        = number
  default     = 2048

  validation {
    condition     = var.ephemeral_storage_size >= 512 && var.ephemeral_storage_size <= 10240 && floor(var.ephemeral_storage_size) == var.ephemeral_storage_size
    error_message = "ephemeral_storage_size must be a whole number of MB from 512 to 10240."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function: the most groves fitted at once, and so a ceiling on spend per second. -1 removes the reservation (needed on new accounts whose concurrency quota is 10)."
  type        = number
  default     = 100

  validation {
    condition     = var.reserved_concurrency == -1 || (var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency)
    error_message = "reserved_concurrency must be -1 (no reservation) or a positive whole number."
  }
}

variable "max_retry_attempts" {
  description = "How many times Lambda retries a grove whose asynchronous invocation failed (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.max_retry_attempts)
    error_message = "max_retry_attempts must be 0, 1 or 2."
  }
}

variable "max_event_age" {
  description = "Longest a grove event may wait in Lambda's asynchronous queue before it is sent to the failure queue, in seconds (60-21600)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_event_age >= 60 && var.max_event_age <= 21600
    error_message = "max_event_age must be from 60 to 21600 seconds."
  }
}

variable "log_format" {
  description = "Format of the function's logs: Text (classic START/END/REPORT lines) or JSON (platform.report records). lamforest reads both."
  type        = string
  default     = "Text"

  validation {
    condition     = contains(["Text", "JSON"], var.log_format)
    error_message = "log_format must be Text or JSON."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: PassThrough (no traces unless the caller samples) or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

################################################################################
# Storage
################################################################################

variable "build_expiration_days" {
  description = "Days after which objects under builds/ (groves, records, merged models) expire; overwritten and expired versions go after noncurrent_version_expiration_days more."
  type        = number
  default     = 90

  validation {
    condition     = var.build_expiration_days >= 1 && floor(var.build_expiration_days) == var.build_expiration_days
    error_message = "build_expiration_days must be a whole number of days, at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days the bucket keeps an object version after it was overwritten or deleted (versioning is on)."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with everything in it (train sets, groves, models). Off by default: destroy then stops at a non-empty bucket."
  type        = bool
  default     = false
}

################################################################################
# The user's own data: Parquet shards the workers read, predictions they write
################################################################################

variable "data_read_locations" {
  description = <<-EOT
    S3 locations the workers may read training data (Parquet shards) from, each "BUCKET" (the whole bucket)
    or "BUCKET/PREFIX" (every object under PREFIX/; a trailing slash is optional), without s3:// and without
    wildcards. The role gets s3:GetObject on those objects and s3:ListBucket on those buckets, restricted to
    those prefixes. Empty (the default) grants nothing. A bucket encrypted with a customer-managed KMS key also
    needs kms:Decrypt on that key, and a bucket in another account a bucket policy that admits the role.
  EOT
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for loc in var.data_read_locations : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/*?$\\s]+)*/?$", loc))])
    error_message = "data_read_locations takes \"BUCKET\" or \"BUCKET/PREFIX\" entries: a bucket name, then key prefix segments, no s3:// scheme, no empty segment, no *, ? or $. Refused: ${jsonencode([for loc in var.data_read_locations : loc if !can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/*?$\\s]+)*/?$", loc))])}."
  }
}

variable "output_write_locations" {
  description = <<-EOT
    S3 locations the workers may write predictions to, in the form of data_read_locations ("BUCKET" or
    "BUCKET/PREFIX"). The role gets s3:PutObject and s3:GetObject on the objects under each (a worker reads an
    existing output to check it matches before it skips the work) and s3:ListBucket restricted to those
    prefixes. Empty (the default) grants nothing.
  EOT
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for loc in var.output_write_locations : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/*?$\\s]+)*/?$", loc))])
    error_message = "output_write_locations takes \"BUCKET\" or \"BUCKET/PREFIX\" entries: a bucket name, then key prefix segments, no s3:// scheme, no empty segment, no *, ? or $. Refused: ${jsonencode([for loc in var.output_write_locations : loc if !can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/*?$\\s]+)*/?$", loc))])}."
  }
}

################################################################################
# Image
################################################################################

variable "image_uri" {
  description = "An existing image to run (ECR URI with tag or digest, built from image/Dockerfile for `architecture`). When set, nothing is built and no repository is created."
  type        = string
  default     = null

  validation {
    condition     = var.image_uri == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.image_uri))
    error_message = "image_uri must be an ECR image URI: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG (or @sha256:DIGEST)."
  }
}

variable "image_keep_count" {
  description = "How many images the ECR repository keeps; older ones are expired."
  type        = number
  default     = 10

  validation {
    condition     = var.image_keep_count >= 1 && floor(var.image_keep_count) == var.image_keep_count
    error_message = "image_keep_count must be a whole number, at least 1."
  }
}

variable "image_build_command" {
  description = <<-EOT
    Shell command run by `apply` to build and push the image whenever its inputs change. It gets IMAGE_URI,
    REGISTRY, PLATFORM, DOCKERFILE, CONTEXT, PYTHON and AWS_REGION in its environment. The default logs
    docker in to ECR with a token fetched by the project's Python (boto3) and runs
    `docker buildx build --platform linux/ARCH --provenance=false --push`, unless that tag is already pushed.
  EOT
  type        = string
  default     = <<-EOT
    set -eu
    # Tags are immutable: an image already pushed (say, by an apply that failed later) is not rebuilt.
    if "$PYTHON" -c 'import os, sys, boto3; repo, tag = os.environ["IMAGE_URI"].split("/", 1)[1].rsplit(":", 1); sys.exit(0 if boto3.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"] else 1)' 2>/dev/null; then
      echo "$IMAGE_URI is already in the repository"
      exit 0
    fi
    "$PYTHON" -c 'import base64, boto3; d = boto3.client("ecr").get_authorization_token()["authorizationData"][0]; print(base64.b64decode(d["authorizationToken"]).decode().split(":", 1)[1])' \
      | docker login --username AWS --password-stdin "$REGISTRY"
    docker buildx build --platform "$PLATFORM" --provenance=false --file "$DOCKERFILE" --tag "$IMAGE_URI" --push "$CONTEXT"
  EOT

  validation {
    condition     = length(trimspace(var.image_build_command)) > 0
    error_message = "image_build_command must not be empty (pass image_uri to skip building)."
  }
}
