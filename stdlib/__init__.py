"""The standard library of patterns, shipped as package data (*.task)."""
