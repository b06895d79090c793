"""The fraudlens workspace: the library behind ``fraudlens serve`` and the workspace commands.

One SQLite database per workspace directory (``db``) holds the imported run (``importer``),
seller and analyst accounts with hashed tokens (``accounts``), analyst decisions, the labels
export (``decisions``) and the append-only audit log (``audit``), product grades (``grades``),
read queries (``queries``) and sellers' upload screening (``screening``). The web app
(``fraudlens.web``) is a thin layer over it.
"""
