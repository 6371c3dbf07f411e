"""The store: the interface everything above uses (`protocols`), the state keys, and the
backends (`tinydb`, the embedded default), which only the composition root picks."""
