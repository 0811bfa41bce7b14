"""Developer tools: drive the plugin as Dify does, try it, package it, check the catalog for drift."""
