export { main, HELP } from './main.js';
export { EXIT, type Command, type Io } from './command.js';
