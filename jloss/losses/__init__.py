"""Loss implementations by family; the public namespace is :mod:`jloss.functional`."""
