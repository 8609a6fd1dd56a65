"""Properties of LUO/KHO page ownership (imports the model only)."""

from luoverify.specs.defects import DEFECTS, Defect, diagnose
from luoverify.specs.properties import BY_NAME, CATALOGUE, Property, select

__all__ = ["BY_NAME", "CATALOGUE", "DEFECTS", "Defect", "Property", "diagnose", "select"]
