"""Rendering: the report document model (text, Markdown), one builder per
review, HTML pages, and the verdict's formats (text, JSON, Markdown, GitHub).
"""
