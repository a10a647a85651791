"""Projects in Mage's layout: finding, loading and creating them."""

from weir.project.project import Project, load_project

__all__ = ["Project", "load_project"]
