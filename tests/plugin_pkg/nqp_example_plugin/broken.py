"""A deliberately broken plugin module: importing it fails."""

raise ImportError("this example plugin is broken on purpose")
