"""Pilot project teams (the people layer): projects, memberships and who may work on a project."""
