"""The PMI's agrément extract: its format (`domain`), applying a file as state and events in one transaction per
batch (`commands`), and the `import`, `demo-extract` and `bench` verbs of `python -m agrement` (`cli`)."""
