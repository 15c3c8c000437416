"""``lanewarden serve``: the reviewer's dashboard, a local web application over the same core as the CLI."""
