output "bucket_name" {
  description = "The bucket holding train sets (data/) and builds (builds/)."
  value       = aws_s3_bucket.this.id
}

output "topic_arn" {
  description = "The SNS topic the driver publishes grove events to."
  value       = aws_sns_topic.this.arn
}

output "function_name" {
  description = "Name of the worker function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the worker function (for direct invocation)."
  value       = aws_lambda_function.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the worker function (START/END/REPORT lines)."
  value       = aws_cloudwatch_log_group.this.name
}

output "region" {
  description = "Region of every resource above."
  value       = var.region
}

output "memory_size" {
  description = "Memory of one worker in MB (prices GB-seconds)."
  value       = aws_lambda_function.this.memory_size
}

output "architecture" {
  description = "Instruction set of the worker, x86_64 or arm64 (prices GB-seconds)."
  value       = one(aws_lambda_function.this.architectures)
}

output "image_uri" {
  description = "The container image the function runs."
  value       = aws_lambda_function.this.image_uri
}

output "reserved_concurrency" {
  description = "Concurrent executions reserved for the function, -1 for none (then the account's limit applies): the estimate's concurrency."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}

output "data_read_locations" {
  description = "Where the workers may read the user's data, as \"BUCKET/\" or \"BUCKET/PREFIX/\": a path is readable when it starts with one of them."
  value       = sort([for l in local.user_data : "${l.bucket}/${l.prefix}"])
}

output "output_write_locations" {
  description = "Where the workers may write predictions, as \"BUCKET/\" or \"BUCKET/PREFIX/\": a path is writable when it starts with one of them."
  value       = sort([for l in local.user_output : "${l.bucket}/${l.prefix}"])
}
