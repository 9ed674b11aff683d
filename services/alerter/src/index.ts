export { alerterStage, alertMail, type DeadLetterRecord } from './stage.js';
