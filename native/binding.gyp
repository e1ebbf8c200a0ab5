{
  "targets": [
    {
      "target_name": "vvf_native",
      "sources": ["send-pieces.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
