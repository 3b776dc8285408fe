"""Stage-neutral infrastructure both stages and the apps use; it imports no model code."""
