"""The template library: survey definitions shipped as JSON files here."""
