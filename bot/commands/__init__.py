"""The platform-free command core: parse a typed line, execute it, return a `Reply`."""
