"""Rollout engine: initial member states, batched autoregressive steps, streaming to the store."""
