"""Member plan: member id ↔ (checkpoint, perturbation, sign); chunk-aligned work items; sharding over ranks."""

from hens.ensemble.plan import EnsembleLayout, MemberKey, WorkItem, perturbation_seed, plan_work, shard

__all__ = ["EnsembleLayout", "MemberKey", "WorkItem", "perturbation_seed", "plan_work", "shard"]
