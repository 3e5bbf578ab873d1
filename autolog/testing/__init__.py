"""Test support shipped with autolog: the store contract suite that every backend must pass."""
