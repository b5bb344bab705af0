################################################################################
# The function's role: exactly what one grove needs, on exact ARNs
################################################################################

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
