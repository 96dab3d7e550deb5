// proxy-addr ships no types; only the calls Joinery uses are declared.
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';
  type Trust = (addr: string, hop: number) => boolean;
  function proxyaddr(req: IncomingMessage, trust: Trust | string | string[]): string;
  namespace proxyaddr {
    function compile(val: string | string[]): Trust;
    function all(req: IncomingMessage, trust?: Trust | string | string[]): string[];
  }
  export = proxyaddr;
}
