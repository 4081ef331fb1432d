"""The .task grammar, shipped as package data (task.lark)."""
