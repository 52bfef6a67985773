"""One module per workflow: signal -> decision, as typed proposals (the policy classes them afterwards)."""
