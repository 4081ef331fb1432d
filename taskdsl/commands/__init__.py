"""The `taskdsl` subcommands, one module each; each exposes `register(subparsers)`."""
