// Launcher for the Node reference relay @eyevinn/hls-pull-push@0.6.0 with its
// MediaPackage output plugin, used by `go run ./bench run --relay reference`.
//
// Environment:
//   HLS_PULL_PUSH_DIR  npm prefix where bench/reference/install.sh installed the package (required)
//   PORT               listen port (default 8080)
//   HOST               listen address (default 127.0.0.1: benchmarks stay on loopback)
//   BENCH_LOG          "quiet" (default: warnings and errors only) or "verbose" (the library's default logging)
//
// It does what HLSPullPush.listen() does, except that it binds HOST instead of
// 0.0.0.0, and it gives the library a quiet logger: the default logger prints
// a line per segment, which would bill console I/O to the reference.
'use strict';
const path = require('path');
const { createRequire } = require('module');

const dir = process.env.HLS_PULL_PUSH_DIR;
if (!dir) {
  console.error('HLS_PULL_PUSH_DIR is not set; run bench/reference/install.sh first');
  process.exit(2);
}
const req = createRequire(path.join(path.resolve(dir), 'package.json'));
const { HLSPullPush, MediaPackageOutput } = req('@eyevinn/hls-pull-push');
const api = req('@eyevinn/hls-pull-push/dist/src/api').default;

const verbose = process.env.BENCH_LOG === 'verbose';
const logger = {
  verbose: (m) => { if (verbose) console.log(`VERBOSE: ${m}`); },
  info: (m) => { if (verbose) console.log(`INFO: ${m}`); },
  warn: (m) => console.error(`WARN: ${m}`),
  error: (m) => console.error(m),
};

const port = parseInt(process.env.PORT || '8080', 10);
const host = process.env.HOST || '127.0.0.1';

const svc = new HLSPullPush(logger);
svc.registerPlugin('mediapackage', new MediaPackageOutput());
svc.server.register(api, { instance: svc, prefix: '/api/v1' });
svc.server.listen(port, host, (err, address) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`LISTEN ${address.replace(/^https?:\/\//, '')}`);
});

const stop = () => svc.server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
