"""Properties of LUO/KHO page ownership and the defect catalogue (imports the model only)."""

from luoverify.model.property import Property
from luoverify.specs.defects import DEFECTS, Defect, diagnose
from luoverify.specs.properties import BY_NAME, CATALOGUE, select

__all__ = ["BY_NAME", "CATALOGUE", "DEFECTS", "Defect", "Property", "diagnose", "select"]
