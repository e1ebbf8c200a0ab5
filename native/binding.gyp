{
  "targets": [
    {
      "target_name": "vvf_native",
      "sources": ["send-pieces.c", "fuse.c"],
      # fuse.c defines the module's entry point and calls send-pieces.c's, renamed here
      # so that the two files' NAPI_MODULE registrations do not collide.
      "defines": ["napi_register_module_v1=vvf_send_pieces_register"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
