{
  "targets": [
    {
      "target_name": "lifeboat_native",
      "sources": ["src/binding.c", "src/poly1305.c", "src/scrypt.c", "src/scan.c"],
      "include_dirs": ["src"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-O0", "-O1", "-O2", "-Os"],
      "cflags": ["-O3", "-fvisibility=hidden"],
      "cflags_c": ["-std=c99"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "Optimization": 2,
          "InlineFunctionExpansion": 2,
          "FavorSizeOrSpeed": 1
        }
      }
    }
  ]
}
