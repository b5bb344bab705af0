################################################################################
# The function's role: exactly what one grove needs, on exact ARNs
################################################################################

data "aws_partition" "current" {}

locals {
  # "BUCKET" or "BUCKET/PREFIX[/]" as {bucket, prefix}: prefix is "" for the whole bucket, else "PREFIX/".
  user_data = distinct([for loc in var.data_read_locations : {
    bucket = split("/", loc)[0]
    prefix = replace(replace(loc, "/^[^/]+/?/", ""), "/([^/])$/", "$1/")
  }])
  user_output = distinct([for loc in var.output_write_locations : {
    bucket = split("/", loc)[0]
    prefix = replace(replace(loc, "/^[^/]+/?/", ""), "/([^/])$/", "$1/")
  }])

  s3_arn              = "arn:${data.aws_partition.current.partition}:s3:::"
  user_data_objects   = sort([for l in local.user_data : "${local.s3_arn}${l.bucket}/${l.prefix}*"])
  user_output_objects = sort([for l in local.user_output : "${local.s3_arn}${l.bucket}/${l.prefix}*"])

  # One listing grant per bucket, limited to its prefixes (unlimited only where a whole bucket was given).
  user_locations = concat(local.user_data, local.user_output)
  user_listings = [
    for bucket in sort(distinct(local.user_locations[*].bucket)) : {
      arn      = "${local.s3_arn}${bucket}"
      whole    = anytrue([for l in local.user_locations : l.bucket == bucket && l.prefix == ""])
      prefixes = sort(distinct([for l in local.user_locations : "${l.prefix}*" if l.bucket == bucket && l.prefix != ""]))
    }
  ]
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-worker"
  description        = "lamforest worker: reads train sets, writes groves, logs, reports failures."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "ReadTrainSets"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/data/*"]
  }

  statement {
    sid = "ReadWriteBuilds"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
    ]
    resources = ["${aws_s3_bucket.this.arn}/builds/*"]
  }

  # Without ListBucket a missing key answers 403 instead of 404, and the
  # worker could not tell "no CANCEL marker" from "not allowed".
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "ReportFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed.arn]
  }

  # The user's own buckets (data_read_locations, output_write_locations): nothing unless listed.
  dynamic "statement" {
    for_each = length(local.user_data_objects) > 0 ? [1] : []

    content {
      sid       = "ReadUserData"
      actions   = ["s3:GetObject"]
      resources = local.user_data_objects
    }
  }

  dynamic "statement" {
    for_each = length(local.user_output_objects) > 0 ? [1] : []

    content {
      sid = "WriteUserOutput"
      # GetObject too: an output already there is read to check it matches before the work is skipped.
      actions = [
        "s3:GetObject",
        "s3:PutObject",
      ]
      resources = local.user_output_objects
    }
  }

  # Listing under those prefixes only (to find shards and existing outputs). A GET carries no
  # s3:prefix, so a missing key may answer 403 rather than 404: look for a key by listing.
  dynamic "statement" {
    for_each = local.user_listings

    content {
      sid       = "ListUserBucket${statement.key}"
      actions   = ["s3:ListBucket"]
      resources = [statement.value.arn]

      dynamic "condition" {
        for_each = statement.value.whole ? [] : [1]

        content {
          test     = "StringLike"
          variable = "s3:prefix"
          values   = statement.value.prefixes
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      sid = "WriteTraces"
      # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-worker"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}
