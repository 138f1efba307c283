"""Training: tokenizer, FIM pretraining of a StarCoder-architecture model, fine-tuning."""
