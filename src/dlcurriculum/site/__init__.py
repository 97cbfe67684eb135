"""The local site: the front matter, every chapter page and every run's report as HTML."""

from dlcurriculum.site.build import build_site, run_page
from dlcurriculum.site.serve import make_server, serve

__all__ = ["build_site", "make_server", "run_page", "serve"]
