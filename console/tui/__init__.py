"""The Textual console (`sluice console`): the app, its screens and widgets, messages, formatting."""
