"""Configs: the schema every run has (`schema.base_config`) and loading `experiments/<file>.py:<arg>` with `--config.x=y` overrides (`loader`)."""
