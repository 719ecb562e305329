// Test-only preload (`node --import`): moves this process's wall clock (Date, Date.now) by the
// milliseconds written in the file MARGO_TEST_CLOCK_FILE, re-read on SIGUSR2. It lets an end-to-end
// test age a real agent's signed desired state by days without waiting, while timers, the server
// and TLS keep the real time. Without MARGO_TEST_CLOCK_FILE it changes nothing.
import { readFileSync } from 'node:fs';

const file = process.env.MARGO_TEST_CLOCK_FILE;
if (file) {
  const RealDate = Date;
  let offset = 0;
  const read = () => {
    try {
      offset = Number(readFileSync(file, 'utf8').trim()) || 0;
    } catch {
      offset = 0;
    }
  };
  read();
  process.on('SIGUSR2', read);
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
