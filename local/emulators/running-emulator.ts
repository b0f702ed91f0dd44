/** A started emulator: where to point SDK clients, and how to shut it down. */
export interface RunningEmulator {
  /** `http://127.0.0.1:PORT`: plain HTTP/1.1 on the loopback interface. */
  readonly endpoint: string;
  /** Idempotent; resolves once the emulator no longer accepts connections (and, for a child process, has exited). */
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /**
   * Where the emulator keeps its state so that it survives a stop and a restart; created if missing. Without it
   * the state lives only as long as the emulator.
   */
  readonly dataDir?: string;
}
