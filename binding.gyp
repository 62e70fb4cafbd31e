{
  "targets": [
    {
      "target_name": "stasis-helper",
      "type": "executable",
      "sources": [
        "native/helper/main.c", "native/helper/args.c", "native/helper/io.c", "native/helper/seal.c",
        "native/helper/path.c", "native/helper/ns.c", "native/helper/sync.c", "native/helper/console.c",
        "native/helper/mount.c", "native/helper/copyup.c", "native/helper/rootfs.c", "native/helper/devices.c",
        "native/helper/process.c", "native/helper/seccomp.c", "native/helper/exec.c", "native/helper/keyring.c", "native/helper/net.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-O2", "-fno-strict-aliasing"],
      "cflags!": ["-fno-exceptions"],
      "libraries": ["-lseccomp"]
    },
    {
      "target_name": "stasis-pagestream",
      "type": "executable",
      "sources": ["native/pagestream/pagestream.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-pthread"],
      "libraries": ["-lcrypto", "-pthread"]
    },
    {
      "target_name": "stasis-front",
      "type": "executable",
      "sources": ["native/front/front.c", "native/common/fdpass.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "stasis_native",
      "sources": ["native/addon/addon.c", "native/addon/spawn.c", "native/addon/warm.c", "native/common/fdpass.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
