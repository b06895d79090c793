"""fraudlens web app (fraudlens serve): pages and JSON API over a workspace."""
