"""Redis adapters: the Coordinator (joins, leases)."""
