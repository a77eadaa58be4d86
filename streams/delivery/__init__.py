"""How records leave an agent safely: dead letters (and, with them, the outbox and batching)."""
