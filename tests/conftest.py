import jax

# float64 parity needs x64; float32 cases pass explicit float32 arrays.
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_default_matmul_precision", "float32")
