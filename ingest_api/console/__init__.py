"""The operator console: server-rendered pages (Jinja2, HTMX) under /console, on the API's
process, its core functions and its route-by-role matrix."""
