terraform {
  # terraform_data (1.4), strcontains (1.5).
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function; 6.x renames region attributes.
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "lamforest", Deployment = var.name }, var.tags)
  }
}
