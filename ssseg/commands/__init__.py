"""CLI command modules: one file per `ssseg <command>`."""
