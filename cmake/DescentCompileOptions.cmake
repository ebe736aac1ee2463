# Compile options shared by every descent target.
#
# -fno-math-errno lets GCC vectorise sqrt (with errno semantics it keeps a scalar
# call on the slow path and the update loop becomes compute-bound).
# -fno-trapping-math (PyTorch builds with it too) lets GCC if-convert selects
# between constants; it changes no values, only whether FP exceptions may trap.
# -ffp-contract=off keeps a*b+c as two roundings, like the PyTorch references and
# like the scalar path the kernel tests compare against: fused multiply-adds would
# make the vector and scalar paths differ in the last bit.
function(descent_set_compile_options target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wno-unused-parameter
    $<$<CONFIG:Release>:-O3>
    -fno-math-errno -fno-trapping-math -ffp-contract=off ${DESCENT_CCACHE_PCH_FLAGS})
  if(DESCENT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
