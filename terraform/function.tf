################################################################################
# The function: one invocation fits one grove
################################################################################

locals {
  image_uri = local.build_image ? terraform_data.image[0].output : var.image_uri
}

# Created before the function, so Lambda never creates it without a retention.
resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_158:Logs hold grove timings and errors, no data; CloudWatch encrypts them at rest already, and a customer key costs a monthly fee.
  # checkov:skip=CKV_AWS_338:Retention is the variable log_retention_days (30 days by default); a year of worker logs is cost without use.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:Failed asynchronous events go to the on-failure destination (aws_lambda_function_event_invoke_config.this), which supersedes a dead-letter queue.
  # checkov:skip=CKV_AWS_117:The worker only calls S3, CloudWatch Logs and SQS; a VPC would add NAT or endpoints at a cost and no protection. A deployment choice, not a default.
  # checkov:skip=CKV_AWS_173:The environment holds only the bucket name, no secret; a customer key would cost a monthly fee.
  # checkov:skip=CKV_AWS_272:Code signing applies to .zip packages only; container images cannot be signed for Lambda.
  function_name = var.name
  description   = "lamforest worker: fits one grove per event."
  role          = aws_iam_role.function.arn

  package_type  = "Image"
  image_uri     = local.image_uri
  architectures = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  environment {
    variables = {
      LAMFOREST_BUCKET = aws_s3_bucket.this.id
    }
  }

  logging_config {
    log_format = var.log_format
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.function,
  ]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.max_retry_attempts
  maximum_event_age_in_seconds = var.max_event_age

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed.arn
    }
  }
}
