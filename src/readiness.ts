/**
 * Whether this instance wants new traffic. It turns false for good at the first moment of a drain
 * (SIGTERM), before any listener closes, so a load balancer polling /ready stops sending requests
 * while the instance still answers the ones already on their way.
 */
export class Readiness {
  #drainingSince: Date | undefined;

  get draining(): boolean {
    return this.#drainingSince !== undefined;
  }

  get drainingSince(): Date | undefined {
    return this.#drainingSince;
  }

  startDrain(): void {
    this.#drainingSince ??= new Date();
  }
}
