"""Storage: the store contract, its SQL implementation, the batching writer and artifacts."""
