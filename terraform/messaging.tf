################################################################################
# Topic: the driver publishes one event per grove; SNS invokes the function
################################################################################

resource "aws_sns_topic" "this" {
  name = var.name
  # The AWS managed key (aws/sns): publishers in the account need no extra grant.
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowInvokeFromTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.this.arn
}

resource "aws_sns_topic_subscription" "function" {
  topic_arn = aws_sns_topic.this.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this.arn

  depends_on = [aws_lambda_permission.sns]
}

################################################################################
# Failure queue: grove events that failed every retry, or waited too long
################################################################################

resource "aws_sqs_queue" "failed" {
  name                      = "${var.name}-failed"
  message_retention_seconds = 1209600 # 14 days, SQS's maximum
  sqs_managed_sse_enabled   = true
}
