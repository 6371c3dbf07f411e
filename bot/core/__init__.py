"""The pure core: values and rules. Imports no I/O library, reads no clock (`now` is passed in)."""
